"""Registrations, attempts, launches and the SCORM run-time: how learners play package modules."""
