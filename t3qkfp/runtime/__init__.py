"""What runs inside the pod (stdlib only): the constant loader and the node runtime helper.

Must not import the compiler or anything outside the standard library: these files run in
images that have only python3 (and papermill for notebooks).
"""
