#!/usr/bin/env bash
# The lab: embedded Map-Server, two data centers and a branch on loopback; a VM moves, DC1 fails over.
# The control plane only (it says so): traffic through the data plane is scripts/netns-lab.sh (root, network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/LispMobility.Agent -c Release -nologo -clp:ErrorsOnly >&2
exec dotnet run --no-build -c Release --project src/LispMobility.Agent -- lab "$@"
