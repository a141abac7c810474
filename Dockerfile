FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# The processes run as an unprivileged user: the code and the installed packages belong to root
# and cannot be changed by the app; only the private documents' folder is the app's to write.
RUN groupadd --system --gid 10001 consult \
    && useradd --system --uid 10001 --gid consult --home-dir /app --no-create-home consult
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Hashed, compressed static files for production (WhiteNoise serves them; README "Web pages").
RUN DEBUG=1 STATIC_MANIFEST=1 python manage.py collectstatic --noinput \
    && mkdir -p /data/private_media && chown consult:consult /data/private_media
USER consult:consult
EXPOSE 8000
CMD ["python", "-m", "config.serve", "-b", "0.0.0.0", "-p", "8000", "config.asgi:application"]
