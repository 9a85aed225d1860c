FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg curl libgl1 libglib2.0-0 libportaudio2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --create-home crosspost && mkdir -p /app/var && chown -R crosspost /app/var
USER crosspost
# collectstatic needs only throw-away keys at build time
RUN DEBUG=false SECRET_KEY=build FIELD_ENCRYPTION_KEYS=$(python -c "from cryptography.fernet import Fernet;print(Fernet.generate_key().decode())") \
    python manage.py collectstatic --noinput -v0
EXPOSE 8000
CMD ["gunicorn", "crosspost.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--limit-request-line", "8190", "--access-logfile", "-"]
