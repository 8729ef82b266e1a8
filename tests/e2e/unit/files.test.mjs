// Unit tests of how a file card names a file (ui/js/files.js): its family and friendly type,
// and a long name cut in the middle. No page is needed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { fileKind, nameParts } from '../../../ui/js/files.js';

test('Office, PDF, archive, media and code files get their family and a friendly type', () => {
  const pptx = 'application/vnd.openxmlformats-officedocument.presentationml.presentation';
  assert.deepEqual(fileKind('Quarterly review.pptx', pptx), { family: 'slides', kind: 'PowerPoint presentation', ext: 'PPTX' });
  assert.deepEqual(fileKind('Budget 2027.XLSX', 'application/octet-stream'), { family: 'spreadsheet', kind: 'Excel spreadsheet', ext: 'XLSX' });
  assert.deepEqual(fileKind('minutes.docx', ''), { family: 'document', kind: 'Word document', ext: 'DOCX' });
  assert.deepEqual(fileKind('contract.pdf', 'application/pdf'), { family: 'pdf', kind: 'PDF document', ext: 'PDF' });
  assert.deepEqual(fileKind('server-logs.tar', 'application/x-tar'), { family: 'archive', kind: 'Tar archive', ext: 'TAR' });
  assert.deepEqual(fileKind('standup.m4a', 'audio/mp4'), { family: 'audio', kind: 'M4A audio', ext: 'M4A' });
  assert.deepEqual(fileKind('demo.webm', 'video/webm'), { family: 'video', kind: 'WebM video', ext: 'WEBM' });
  assert.deepEqual(fileKind('fix.rs', 'text/plain'), { family: 'code', kind: 'Rust source', ext: 'RS' });
  assert.deepEqual(fileKind('notes.txt', 'text/plain'), { family: 'text', kind: 'Text file', ext: 'TXT' });
});

test('an unknown extension falls back to the media type, then to the extension, then to "File"', () => {
  assert.deepEqual(fileKind('scan', 'application/pdf'), { family: 'pdf', kind: 'PDF document', ext: '' });
  assert.deepEqual(fileKind('clip.xyz', 'video/x-whatever'), { family: 'video', kind: 'Video', ext: 'XYZ' });
  assert.deepEqual(fileKind('model.blend', 'application/octet-stream'), { family: 'file', kind: 'BLEND file', ext: 'BLEND' });
  assert.deepEqual(fileKind('README', ''), { family: 'file', kind: 'File', ext: '' });
  assert.deepEqual(fileKind('.bashrc', ''), { family: 'file', kind: 'File', ext: '' }, 'a leading dot is no extension');
  assert.deepEqual(fileKind('odd.name.with-a-very-long-extension', ''), { family: 'file', kind: 'File', ext: '' });
  assert.equal(fileKind('x.constructor', '').family, 'file', 'no prototype names');
});

test('a long name keeps its end and extension; a short one is whole', () => {
  assert.deepEqual(nameParts('review.pptx'), ['review.pptx', '']);
  assert.deepEqual(nameParts('Quarterly review.pptx'), ['Quarterly r', 'eview.pptx']);
  const [start, end] = nameParts('Quarterly business review for the board v3 final.pptx');
  assert.equal(end, ' final.pptx'.slice(-10));
  assert.equal(start + end, 'Quarterly business review for the board v3 final.pptx');
  const emoji = nameParts('🎉'.repeat(30));
  assert.deepEqual([...emoji[1]].length, 10, 'cut between characters, never inside one');
});
