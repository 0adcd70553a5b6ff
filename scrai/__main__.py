from scrai.cli import main

main()
