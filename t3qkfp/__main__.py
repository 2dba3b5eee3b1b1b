"""`python -m t3qkfp` is the same as the `t3qkfp` command."""
from .cli import main

main()
