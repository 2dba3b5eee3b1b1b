def scale(value: int, factor: int) -> int:
    return value * factor
