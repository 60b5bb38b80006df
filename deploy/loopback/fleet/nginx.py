"""nginx in front of the app processes, from a configuration generated into the fleet's
folder (its pid file, logs and temporary files there too; /etc/nginx is never read).

Only idempotent requests are retried, once, on the next app process: nginx never passes a
POST on to another upstream unless told ``non_idempotent``, which this configuration does
not say. Passive health checks: an app that fails is left out for ``fail_timeout``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fleet.layout import Layout
from fleet.processes import read_pid, run, stop_pid

_CONFIG = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {logs}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {logs}/nginx-access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    client_max_body_size 50m;

    upstream certdist {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://certdist;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            # One retry on the next app process, for idempotent requests only.
            proxy_next_upstream error timeout http_502;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""


def available() -> bool:
    return shutil.which("nginx") is not None


def _conf(layout: Layout) -> Path:
    return layout.nginx_dir / "nginx.conf"


def write_config(layout: Layout) -> None:
    (layout.nginx_dir / "tmp").mkdir(parents=True, exist_ok=True)
    servers = "\n".join(
        f"        server 127.0.0.1:{layout.app_port(i)} max_fails=1 fail_timeout=5s;"
        for i in range(layout.apps)
    )
    text = _CONFIG.format(
        dir=layout.nginx_dir, logs=layout.logs, servers=servers, port=layout.nginx_port
    )
    _conf(layout).write_text(text)


def _command(layout: Layout) -> list[str]:
    # -e: the error log before the configuration is read (else nginx opens /var/log/nginx).
    return [
        "nginx", "-p", str(layout.nginx_dir), "-c", str(_conf(layout)),
        "-e", str(layout.logs / "nginx-error.log"),
    ]  # fmt: skip


def start(layout: Layout) -> None:
    write_config(layout)
    run([*_command(layout), "-t", "-q"])
    run(_command(layout))


def stop(layout: Layout) -> None:
    pid = read_pid(layout.nginx_dir / "nginx.pid")
    if pid is not None:
        stop_pid(pid)
