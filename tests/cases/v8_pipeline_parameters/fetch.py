print('hello from fetch.py')
