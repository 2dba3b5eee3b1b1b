print('hello from p.py')
