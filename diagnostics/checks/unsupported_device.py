"""The guest has a device or feature that cannot be live migrated (F7.9-7.13)."""

from __future__ import annotations

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather
from diagnostics.evidence.types import (
    InstanceActions,
    ManagementPlane,
    Server,
    SourceHostLogs,
)
from diagnostics.model import (
    CheckOutcome,
    Concluded,
    Confidence,
    CouldNotCheck,
    MigrationKind,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check

# flavor extra specs / image properties that name such a feature (circumstantial)
_SPEC_HINTS = (
    ("hw:mem_encryption", "SEV memory encryption"),
    ("hw:tpm_version", "vTPM"),
    ("hw_tpm_version", "vTPM"),
    ("pci_passthrough:alias", "PCI passthrough"),
    ("resources:VGPU", "mediated devices (mdev)"),
    ("accel:device_profile", "accelerators"),
    ("hw:pmem", "persistent memory"),
)
# features with a fix of their own; any other is moved cold (the guest restarts)
_FIXES = {
    "vTPM secret missing": "hard-reboot",
    "serial console": "none",
    "NUMA with pre-Train computes": "none",
}
_REMEDIES = (
    r.fix(r.CLI, "openstack server reboot --hard {server_id}",
          "A hard reboot makes Nova recreate the vTPM secret the host lost.",
          when="feature_fix=hard-reboot"),
    r.fix(r.CLI, "openstack server migrate {server_id}",
          "A cold migration moves the VM with a restart of the guest, which this "
          "feature allows.", when="feature_fix=cold"),
    r.check(r.CLI, "openstack server migration list --server {server_id}",
            "The cold migration's progress; confirm it with openstack server resize "
            "confirm when it reaches finished.", when="feature_fix=cold"),
    r.check(r.CLI, "openstack compute service list --service nova-compute --long",
            "Computes older than Train in the cell block NUMA live migration.",
            when="feature_fix=none"),
)  # fmt: skip


@check(
    id="nova.unsupported-device",
    title="VM has a device or feature that cannot be live migrated",
    applies_to={MigrationKind.LIVE},
    root_cause=RootCauseId.UNSUPPORTED_DEVICE,
    priority=860,
    step=3,
    summary="{server_name} cannot be live migrated: it uses {feature}.",
    remediation=_REMEDIES,
    references=(
        "https://docs.openstack.org/nova/latest/admin/live-migration-usage.html",
    ),
)
def unsupported_device(
    server: Server,
    actions: InstanceActions | None,
    mgmt: ManagementPlane | None,
    source_logs: SourceHostLogs | None,
) -> CheckOutcome:
    """Nova refuses to live migrate guests with SEV, vTPM (unless all computes are new
    enough), vDPA ports, accelerators, PCI passthrough, persistent memory, some mdev
    types, NUMA pinning across pre-Train computes, a serial console the destination
    cannot handle, or across cells. The refusal text is "likely", and it agreeing with
    the flavor or image naming the feature is "confirmed". The flavor alone is only
    "possible": the refusal text may be in an API answer we did not see.
    """
    texts = gather(actions=actions, server=server, mgmt=mgmt, source_logs=source_logs)
    hit, feature = None, ""
    for name, pattern in sig.UNSUPPORTED_FEATURES:
        hit = texts.find(pattern)
        if hit is not None:
            feature = name
            break
    specs = {**server.image_properties, **server.flavor.extra_specs}
    hinted = [
        label for key, label in _SPEC_HINTS if any(k.startswith(key) for k in specs)
    ]
    if hit is None and not hinted:
        if actions is None and mgmt is None:
            # Nova records the pre-check refusal in the action's events and the
            # conductor's log; neither read is no sign the refusal was absent
            return CouldNotCheck(
                why="no such device in the flavor or image, but the instance action"
                " events and the conductor's log, where Nova records the refusal,"
                " could not be read",
                needs="the os-instance-actions API or the management plane's logs",
            )
        return RuledOut(reason="no unsupported-feature refusal and no such device")
    feature = feature or hinted[0]
    fix = _FIXES.get(feature, "cold")
    if hit is not None:
        confidence = Confidence.CONFIRMED if feature in hinted else Confidence.LIKELY
    else:
        confidence = Confidence.POSSIBLE
    return Concluded(
        facts={
            "server_name": server.name,
            "server_id": server.id,
            "feature": feature,
            "feature_fix": fix,
        },
        cites=cites(hit),
        confidence=confidence,
    )
