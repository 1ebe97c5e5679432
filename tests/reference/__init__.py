"""Reference data the tests compare against, vendored so a bare clone runs the whole suite.

Copied unchanged from the project's shared reference set (see README.md here); no test may
read anything outside the repository.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
NOVA = HERE / "nova"
NOVA_LIVE = NOVA / "live"
NOVA_API_SAMPLES = NOVA / "api_samples"
NOVA_NOTIFICATION_SAMPLES = NOVA / "notification_samples"
ROOT_CAUSES = HERE / "root-causes.md"
