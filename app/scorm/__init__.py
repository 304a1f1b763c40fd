"""SCORM run-time data model (SCORM 1.2 and SCORM 2004 4th Edition)."""
