"""Node 2: reads node 1's output, writes doubled numbers."""
import os
import sys

sys.path.insert(0, "lib")
from arith import scale  # a dependency packed with the node

factor = int(os.environ["FACTOR"])
numbers = [int(line) for line in open("data/numbers.txt")]
doubled = [scale(n, factor) for n in numbers]
with open("doubled.txt", "w") as out:
    out.write("".join(f"{n}\n" for n in doubled))
print(f"double: {numbers} -> {doubled}")
