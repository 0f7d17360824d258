"""`python -m kinetype` (used by torchrun: `torchrun --nproc-per-node G -m kinetype train ...`)."""

from kinetype.cli import main

main()
