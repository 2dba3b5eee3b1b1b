print('hello from scripts/clean.py')
