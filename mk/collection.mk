# The maestro.platform Ansible collection: ansible/ (galaxy.yml, meta/, plugins/, roles/), the playbooks as the
# collection's playbooks/, and the files the roles share with the Pulumi path packed under shared/ from their one
# source (the maestro.platform.shared lookup reads them there; in a checkout, at the repository root).
#   make collection         stage and build $(COLLECTION_DIR)/maestro-platform-<version>.tar.gz
#   make lint-collection    ansible-lint (production profile) on the staged collection (part of `make lint`)
# tests/ansible/test_collection.py builds it into a scratch directory, installs it and runs a playbook that uses it.
.PHONY: collection lint-collection

COLLECTION_DIR ?= build/collection
# Staged where Ansible looks for it by name (a collections path holds ansible_collections/<namespace>/<name>).
COLLECTION_STAGE = $(COLLECTION_DIR)/ansible_collections/maestro/platform
# What the roles read from the repository: the port map and network matrix (with its validator), the alert rules,
# the Alertmanager configuration and the dashboards.
COLLECTION_SHARED := config/ports.yaml config/network.yaml config/network.py dashboards/rules \
	dashboards/alertmanager/alertmanager.yml dashboards/generated
COLLECTION_PLAYBOOKS := site.yml switchover.yml backup.yml restore.yml drill.yml group_vars

collection: bootstrap ## Build the maestro.platform Ansible collection (build/collection/*.tar.gz).
	rm -rf $(COLLECTION_STAGE) && mkdir -p $(COLLECTION_STAGE)/playbooks $(COLLECTION_STAGE)/shared
	cp -r $(addprefix ansible/,galaxy.yml README.md CHANGELOG.md meta plugins roles) $(COLLECTION_STAGE)/
	cp -r $(addprefix ansible/,$(COLLECTION_PLAYBOOKS)) $(COLLECTION_STAGE)/playbooks/
	cp -r --parents $(COLLECTION_SHARED) $(COLLECTION_STAGE)/shared/
	find $(COLLECTION_STAGE) -name __pycache__ -prune -exec rm -rf {} +
	.venv/bin/ansible-galaxy collection build --force --output-path $(COLLECTION_DIR) $(COLLECTION_STAGE)

lint-collection: collection ## ansible-lint (production profile) on the staged collection.
	cd $(COLLECTION_STAGE) && ANSIBLE_COLLECTIONS_PATH=$(abspath $(COLLECTION_DIR)) \
		$(CURDIR)/.venv/bin/ansible-lint --profile production --offline

LINT_TARGETS += lint-collection
