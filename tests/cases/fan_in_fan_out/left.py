print('hello from left.py')
