# The motion sensor of examples/ as a container, for docker-compose.yml: a
# device with paho-mqtt 1.6 (Debian 12's, the version the tests use) that
# takes its certificate, key and CA from a mounted directory.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-paho-mqtt \
    && rm -rf /var/lib/apt/lists/*
COPY motion_sensor.py /usr/local/bin/motion_sensor.py
ENTRYPOINT ["python3", "/usr/local/bin/motion_sensor.py"]
