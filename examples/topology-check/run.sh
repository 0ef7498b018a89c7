#!/bin/sh
# The questions a storage or GPU engineer asks about this machine, asked of the model.
# Machine: data/gpu4-plx8747-nvbugreport.txt (see its .source.md): four GTX 1080 Ti GPUs behind two
# PLX PEX 8747 switches on two root ports of a Xeon E5 v4 host bridge [8086:6f00].
# Each line below is one command; test/run.test.ts runs every one and checks its answer.
P2PDMA="node ../../packages/cli/dist/bin.js"
DUMP=data/gpu4-plx8747-nvbugreport.txt

# Two GPUs under the same switch: peer-to-peer with bus addresses, the switch keeps the traffic.
$P2PDMA check $DUMP --provider 04:00.0 --client 05:00.0
# Two GPUs under different switches and root ports: through the host bridge, which is not whitelisted.
$P2PDMA check $DUMP --provider 04:00.0 --client 08:00.0
# The same pair as the 2018 seed series would judge it (same switch only).
$P2PDMA check $DUMP --provider 04:00.0 --client 08:00.0 --policy v2
# The same pair if the CPU were AMD Zen (the upstream CPU rule).
$P2PDMA check $DUMP --provider 04:00.0 --client 08:00.0 --cpu amd-zen
# Which GPU's memory would the kernel pick for GPU 08:00.0 and its audio function?
$P2PDMA find $DUMP --client 08:00.0 08:00.1 --provider 04:00.0 05:00.0 09:00.0
# Every pair at once, like nvidia-smi topo -m.
$P2PDMA matrix $DUMP
# IOMMU groups with ACS enabled, and after the seed's ACS clearing.
$P2PDMA iommu-groups $DUMP
