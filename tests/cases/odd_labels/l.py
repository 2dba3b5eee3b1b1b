print('hello from l.py')
