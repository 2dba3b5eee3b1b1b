print('hello from t1.py')
