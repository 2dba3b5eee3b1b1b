print('hello from d.py')
