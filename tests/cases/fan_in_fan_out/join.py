print('hello from join.py')
