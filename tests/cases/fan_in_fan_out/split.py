print('hello from split.py')
