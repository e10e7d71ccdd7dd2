"""Stage 2, compose: gateway RPMs + base repository → ``cs-repo/`` and the install set.

In: the gateway RPM files (headers, signatures), the gateway comps file, the base tree's
repodata and comps, the rendered kickstart's ``%packages``. Out: the ``cs-repo/`` yum
repository (createrepo_c ``--compatibility``), and the install set: the dependency closure of
``%packages`` over base + ``cs-repo``, every problem with the kickstart line that caused it.
"""
