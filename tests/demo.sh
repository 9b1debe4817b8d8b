#!/bin/sh
# Placeholder until the end-to-end demo lands: builds nothing, says so.
echo "demo: not written yet" >&2
exit 69
