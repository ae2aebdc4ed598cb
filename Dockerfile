# The lienthong image: Airflow 3.3 (CeleryExecutor) with the lienthong library, DAGs,
# Great Expectations suites and warehouse migrations. One image for every Airflow
# component and for the demo Ministry API; docker-compose.yml chooses the command.
#
# No secret is baked in: passwords, tokens, the Fernet key and the JWT secret reach the
# containers at run time through the environment (see .env.example).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    LIENTHONG_HOME=/opt/airflow/lienthong

# Airflow's conventional uid, group 0 (as in the official image), so that files written to
# the named volumes have a stable owner.
RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --no-create-home --shell /bin/bash airflow

WORKDIR /opt/lienthong

# Dependencies first, in their own layer: they change far less often than the code.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# The Celery executor and its Redis broker client are needed only by this stack (the
# demo and the tests run Airflow with SQLite and the LocalExecutor), so they are not in
# requirements.txt. These pins were resolved against requirements.txt as constraints
# (pip install --dry-run -c requirements.txt apache-airflow-providers-celery redis).
RUN pip install -c requirements.txt \
        apache-airflow-providers-celery==3.26.0 \
        celery==5.6.3 \
        kombu==5.6.2 \
        billiard==4.3.2 \
        vine==5.1.0 \
        amqp==5.4.2 \
        click-didyoumean==0.3.1 \
        click-plugins==1.1.1.2 \
        click-repl==0.4.1 \
        flower==2.2.0 \
        tornado==6.6.1 \
        prometheus_client==0.26.0 \
        prompt_toolkit==3.0.53 \
        wcwidth==0.9.4 \
        humanize==4.17.0 \
        pytz==2026.6 \
        redis==6.4.0 \
    && pip check

COPY pyproject.toml ./
COPY plugins/ plugins/
COPY dags/ dags/
COPY expectations/ expectations/
COPY sql/ sql/

# Editable on purpose: lienthong.settings finds sql/ and expectations/ relative to the
# package's own file (PROJECT_ROOT = plugins/lienthong/../..), which holds only when the
# package is imported from /opt/lienthong/plugins, not from a copy in site-packages.
RUN pip install --no-deps -e . \
    && mkdir -p /opt/airflow/logs /opt/airflow/auth /opt/airflow/lienthong \
    && chown -R airflow:0 /opt/airflow \
    && chmod -R g+rwX /opt/airflow \
    && chmod 0700 /opt/airflow/auth

USER airflow
WORKDIR /opt/airflow

# Every component is an "airflow <command>" (api-server, scheduler, dag-processor,
# triggerer, celery worker); docker-compose.yml gives the command.
CMD ["airflow", "version"]
