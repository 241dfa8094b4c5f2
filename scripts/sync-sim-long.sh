#!/usr/bin/env bash
# Long run of the sync simulated-network property test (packages/sync/test/convergence.property.test.ts).
#   scripts/sync-sim-long.sh                 10,000 runs, default seed
#   NUM_RUNS=500 SEED=42 scripts/sync-sim-long.sh
# A failure prints fast-check's counterexample and seed; rerun with that SEED (and NUM_RUNS) to reproduce.
set -euo pipefail
cd "$(dirname "$0")/.."
export NUM_RUNS="${NUM_RUNS:-10000}"
export SEED="${SEED:-$(date +%s)}"
echo "sync simulated network: NUM_RUNS=$NUM_RUNS SEED=$SEED"
exec npx vitest run --project sync test/convergence.property.test.ts --testTimeout=0
