print('gpu')
