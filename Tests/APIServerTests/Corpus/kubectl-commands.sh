kubectl create namespace corpus
kubectl -n corpus create configmap settings --from-literal=mode=fast --from-literal=retries=3
kubectl -n corpus create secret generic credentials --from-literal=password=hunter2 --from-literal=token=abc
kubectl -n corpus create service nodeport web --tcp=80:8080 --tcp=443:8443
kubectl -n corpus create job migrate --image=busybox:1.36 -- sh -c 'echo done'
kubectl -n corpus run worker --image=nginx:1.27 --labels=app=worker,tier=back --port=8080 --env=MODE=fast
kubectl -n corpus create serviceaccount robot
kubectl -n corpus create role reader --verb=get,list --resource=pods,configmaps
kubectl -n corpus create rolebinding reader-binding --role=reader --serviceaccount=corpus:robot --user=alice
kubectl create clusterrole watcher --verb=watch --resource=services --resource-name=web
kubectl create clusterrolebinding watcher-binding --clusterrole=watcher --group=ops
