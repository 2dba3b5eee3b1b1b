print('hello from scripts/helpers.py')
