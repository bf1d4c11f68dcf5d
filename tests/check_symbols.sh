#!/bin/sh
# make check: portainer.so exports module_register and nothing else (the
# plugin and its core library are built with -fvisibility=hidden).  A
# generic name such as http_request or source_new exported from a plugin
# could bind to, or be bound by, a symbol of another plugin in collectd.
so=${PORTAINER_SO:-.libs/portainer.so}
if [ ! -f "$so" ]; then
  echo "check_symbols: $so not built" >&2
  exit 99 # a hard error, not a pass or a skip
fi
syms=$(nm -D --defined-only "$so" | awk '{print $NF}' | sort -u)
if [ "$syms" != "module_register" ]; then
  echo "check_symbols: FAIL: $so exports more than module_register:" >&2
  echo "$syms" | grep -vx module_register | sed 's/^/  /' >&2
  echo "  ($(echo "$syms" | grep -cvx module_register) symbols)" >&2
  exit 1
fi
echo "check_symbols: ok: $so exports only module_register"
