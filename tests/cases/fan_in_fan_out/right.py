print('hello from right.py')
