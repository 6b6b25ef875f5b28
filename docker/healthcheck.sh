#!/bin/bash
# The image's HEALTHCHECK (installed as /usr/local/bin/wxlink-healthcheck): when a `wxlink serve`
# process runs in the container, GET /health on 127.0.0.1:${PORT:-8000} must answer 200 within
# the time Docker allows; with no such process (stdio `mcp`, `login`, ...) there is nothing to
# probe and the check passes. Uses bash's /dev/tcp: the base image has no curl or wget.
set -u

serving=0
for cmdline in /proc/[0-9]*/cmdline; do
    mapfile -d '' -t argv < "$cmdline" 2>/dev/null || continue
    [[ ${#argv[@]} -gt 1 && ${argv[0]##*/} == wxlink && ${argv[1]} == serve ]] && serving=1 && break
done
[[ $serving == 1 ]] || exit 0

exec 3<>"/dev/tcp/127.0.0.1/${PORT:-8000}" || exit 1
printf 'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
[[ $status == "HTTP/1.1 200"* ]]
