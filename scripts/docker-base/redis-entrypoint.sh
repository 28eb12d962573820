#!/bin/sh
# As in the official redis image: protected mode off (the container's network is the boundary), so
# that `redis-server --any --options` from compose accepts other containers' connections.
if [ "$1" = redis-server ]; then
  shift
  exec redis-server --protected-mode no "$@"
fi
exec "$@"
