print('hello from c.py')
