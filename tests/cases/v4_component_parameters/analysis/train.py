print('hello from analysis/train.py')
