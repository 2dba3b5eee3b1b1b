open("fine.txt", "w").write("fine\n")
print("fine script ran")
