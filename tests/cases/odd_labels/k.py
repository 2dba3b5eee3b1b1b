print('hello from k.py')
