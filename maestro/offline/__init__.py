"""The Pulumi program without a Pulumi CLI or a cloud: evaluated under `pulumi.runtime.set_mocks`.

- mockrun.py      the harness: evaluate a stack under mocks and record what the engine would receive
- preview.py      `maestro preview`: the resource tree and counts by type
- policycheck.py  `maestro policy check|generate|info`: the policy pack over the recorded resources, as the engine
                  calls it; the generated policy docs and config
"""
