# One image, every ScrAI process: the command picks which (see docker-compose.yml).
#   docker build -t scrai:latest .
#   docker run --rm scrai:latest                                   # API server (default)
#   docker run --rm scrai:latest python -m scrai.world             # world system
#   docker run --rm scrai:latest python -m scrai.memory            # memory consolidator
#   docker run --rm scrai:latest python -m analytics               # analytics system
#   docker run --rm scrai:latest python -m spawner --backend docker
#   docker run --rm scrai:latest python run_agent_worker.py --agent-id alice
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# Dependencies first, from pyproject.toml alone: editing the code does not reinstall them.
# Every dependency ships wheels for this platform, so no compiler is needed or left behind.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm -f /tmp/requirements.txt

# The project itself, installed in place so the code finds scenarios/ and frontend/ beside it.
COPY . .
# The code stays root-owned (read-only to the service user); only the data dir is writable.
# Bytecode compiled once here: the code is read-only at run time, and a hundred worker
# containers compiling it on every start would cost seconds of CPU each.
# Editable in "compat" mode: a plain path in a .pth file. The default mode installs an import
# hook that every Python start imports (~35 ms of CPU per worker, per healthcheck probe).
RUN pip install --no-cache-dir --no-deps -e . --config-settings editable_mode=compat \
    && python -m compileall -q scrai spawner analytics bench run_agent_worker.py \
    && rm -rf /root/.cache build \
    && useradd --create-home --uid 10001 --user-group scrai \
    && mkdir -p /app/.data && chown scrai:scrai /app/.data

USER scrai
EXPOSE 8000
# Exec form: Python itself is PID 1 and gets SIGTERM (first: graceful stop, second: exit).
CMD ["python", "-m", "scrai.api"]
