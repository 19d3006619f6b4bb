"""Balancing strategies (`balance:` of an upstream), one kind module each, registered as section
"balancers": each registers the class that `build`s its Balancer from (endpoints, hash_on)."""
