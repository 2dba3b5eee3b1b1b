print('hello from s.py')
