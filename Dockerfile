# syntax=docker/dockerfile:1.7
# The operator image: a venv built in one stage, copied onto a slim Python base without pip caches,
# compilers or build tools. Runs as a numeric non-root user and needs no writable root filesystem
# (bytecode is compiled at build time; the operator writes nothing to disk).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# Every dependency ships manylinux wheels, so no compiler is needed in either stage.
RUN python -m venv /opt/wsconn \
    && /opt/wsconn/bin/pip install --prefer-binary . \
    && /opt/wsconn/bin/python -m compileall -q /opt/wsconn/lib \
    && /opt/wsconn/bin/pip uninstall --yes pip setuptools wheel

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="wsconn-operator" \
      org.opencontainers.image.description="Kubernetes operator for Azure Machine Learning workspace connections" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/wsconn /opt/wsconn
ENV PATH=/opt/wsconn/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["wsconn", "run"]
