#!/usr/bin/env bash
# The lab: embedded Map-Server, two data centers and a branch on loopback; a VM moves, DC1 fails over.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/LispMobility.Agent -c Release -nologo -clp:ErrorsOnly >&2
exec dotnet run --no-build -c Release --project src/LispMobility.Agent -- lab "$@"
