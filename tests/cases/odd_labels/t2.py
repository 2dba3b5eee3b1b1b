print('hello from t2.py')
