# syntax=docker/dockerfile:1
#
# The robot runtime / serving image: robotops with ONNX Runtime and NumPy, no PyTorch.
# One file for x86-64 and ARM64 robots (every runtime dependency ships manylinux aarch64 wheels,
# so nothing is compiled and no emulation is needed beyond buildx's own):
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t robotops-runtime .
#   docker run --rm -v "$PWD/bundle:/bundle:ro" robotops-runtime predict /bundle FRAME...
#
# EXTRAS chooses the optional dependencies: "runtime" (ONNX Runtime) today; once the HTTP server
# has its extra, build the serving image with `--build-arg EXTRAS=runtime,serve`.

ARG PYTHON_VERSION=3.11

# ---- build: install robotops and its extras into a virtualenv (no source, no setuptools later) --
FROM python:${PYTHON_VERSION}-slim-bookworm AS build

ARG EXTRAS=runtime

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/robotops
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/robotops/bin/pip install ".[${EXTRAS}]"

# ---- runtime: the virtualenv alone, run as an unprivileged user ------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime

ENV PATH=/opt/robotops/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# A fixed numeric UID, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 robot \
    && useradd --system --uid 10001 --gid robot --create-home --home-dir /home/robot robot

# Same base image and path in both stages, so the virtualenv runs as copied.
COPY --from=build /opt/robotops /opt/robotops

USER 10001:10001
WORKDIR /home/robot

# Proves the robot-side stack loads on this architecture (ONNX Runtime's native library included).
# The serving image will probe the server's readiness endpoint instead.
HEALTHCHECK --interval=30s --timeout=10s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import onnxruntime, robotops.runtime"]

ENTRYPOINT ["robotops"]
CMD ["--help"]
