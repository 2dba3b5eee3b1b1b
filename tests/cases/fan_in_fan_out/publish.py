print('hello from publish.py')
