"""The constant loader every container runs as `python3 -c <this file minus comments>`.

Why this shape: the text is repeated in every container of the compiled YAML, so it stays
small (command.py strips this docstring and the comment lines) and holds no user data. It
must contain no double braces (Argo substitutes them) and no dollar-parenthesis (the kubelet
expands it in command lines). Everything node-specific comes from the T3QKFP_NODE env var
(nodespec.py: a JSON list, storage fields first). It downloads the node runtime helper, one
content-addressed object per compile (<prefix>/runtime/<sha256>.py), with a stdlib-only AWS
SigV4 request (no pip, no GitHub), checks its sha256 and execs it in these globals, so the
helper reuses `s3` and `E` (one signing implementation) and fetches the node archive itself.
The storage keys come from T3QKFP_S3_ACCESS_KEY / _SECRET_KEY where the compiler set them
(the user's own secrets set AWS_*), else from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
Only full-line comments here: command.py drops those lines and nothing else.
"""
import hashlib,hmac,json,os,sys,time,urllib.parse as Q,urllib.request as U
S=json.loads(os.environ["T3QKFP_NODE"])
_,e,B,P,g,R,N=S[:7]
class E(Exception):pass
def H(b):return hashlib.sha256(b).hexdigest()
def M(k,m):return hmac.new(k,m.encode(),hashlib.sha256).digest()
def V(n,u):
 v=os.environ.get(n,os.environ.get(u))
 if v is None:raise E("%s and %s unset: no object storage credentials"%(n,u))
 return v
def s3(m,key,body=b""):
 t=time.strftime("%Y%m%dT%H%M%SZ",time.gmtime());d=t[:8];y=H(body);a=V("T3QKFP_S3_ACCESS_KEY","AWS_ACCESS_KEY_ID")
 u=Q.urlsplit(e);p=u.path+"/"+B+"/"+Q.quote(key,safe="/-_.~");w="s3://%s/%s at %s"%(B,key,e)
 h="host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n"%(u.netloc,y,t);n="host;x-amz-content-sha256;x-amz-date"
 c=d+"/"+g+"/s3/aws4_request";k=M(M(M(M(("AWS4"+V("T3QKFP_S3_SECRET_KEY","AWS_SECRET_ACCESS_KEY")).encode(),d),g),"s3"),"aws4_request")
 s=hmac.new(k,("AWS4-HMAC-SHA256\n%s\n%s\n"%(t,c)+H(("%s\n%s\n\n%s\n%s\n%s"%(m,p,h,n,y)).encode())).encode(),hashlib.sha256).hexdigest()
 r=U.Request(u.scheme+"://"+u.netloc+p,body if m=="PUT" else None,{"Content-Type":"application/octet-stream","x-amz-date":t,"x-amz-content-sha256":y,"Authorization":"AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"%(a,c,n,s)},method=m)
 try:
  with U.urlopen(r,timeout=60) as f:return f.read()
 except U.HTTPError as x:
  o=x.read().decode("utf-8","replace");o=o.split("<Code>")[1].split("<")[0] if "<Code>" in o else str(x.code)
  if o in("InvalidAccessKeyId","SignatureDoesNotMatch","AccessDenied","403"):o="credentials refused (%s): check the storage secret's access and secret keys"%o
  if o=="NoSuchBucket":o="bucket %r does not exist"%B
  raise E("%s: %s"%(o,w))
 except OSError as x:raise E("cannot reach object storage at %s: %s"%(e,getattr(x,"reason",x)))
if sys.version_info<(3,7):sys.exit("t3qkfp: node %r failed: needs Python 3.7+, the image has %s"%(N,sys.version.split()[0]))
k=P+"runtime/"+R+".py"
try:
 r=s3("GET",k)
 if H(r)!=R:raise E("sha256 of %s differs from the compiled one"%k)
except E as x:sys.exit("t3qkfp: node %r failed: %s"%(N,x))
exec(compile(r,k,"exec"));sys.exit(node_main(S))
