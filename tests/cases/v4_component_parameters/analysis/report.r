cat('hello\n')
